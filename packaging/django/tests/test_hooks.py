"""The model hooks, against a fake daemon, with real commits
(TransactionTestCase: on_commit callbacks run as in production)."""

import time
from unittest import mock

from django.db import transaction
from django.test import TransactionTestCase, override_settings

from django_preloadd import PreloaddError, hooks, invalidate_on_commit

from .fake_daemon import FakeDaemon, refused_url
from .testapp.models import Event, EventProxy, SpecialEvent, Topic, Unlisted


class HookTestCase(TransactionTestCase):
    def setUp(self):
        self.daemon = FakeDaemon()
        self.addCleanup(self.daemon.close)
        overridden = override_settings(PRELOADD_URL=self.daemon.url)
        overridden.enable()
        self.addCleanup(overridden.disable)


class SaveAndDelete(HookTestCase):
    def test_a_save_posts_its_model_and_row_tag_after_the_commit(self):
        with transaction.atomic():
            event = Event.objects.create(title="a")
            self.assertEqual(self.daemon.bodies(), [], "told before the commit")
        self.assertEqual(
            self.daemon.bodies(),
            [{"models": ["testapp.Event"], "tags": [f"testapp.Event:{event.pk}"]}],
        )
        self.assertEqual(self.daemon.requests[0]["path"], "/_invalidate")
        self.assertEqual(self.daemon.requests[0]["headers"]["Content-Type"], "application/json")

    def test_in_autocommit_each_save_posts_at_once(self):
        first = Event.objects.create(title="a")
        self.assertEqual(len(self.daemon.bodies()), 1)
        Event.objects.create(title="b")
        self.assertEqual(len(self.daemon.bodies()), 2)
        self.assertEqual(self.daemon.bodies()[0]["tags"], [f"testapp.Event:{first.pk}"])

    def test_one_transaction_is_one_post_for_every_model_and_row(self):
        with transaction.atomic():
            a = Event.objects.create(title="a")
            b = Event.objects.create(title="b")
            topic = Topic.objects.create(name="t")
            a.title = "a2"
            a.save()
        self.assertEqual(
            self.daemon.bodies(),
            [
                {
                    "models": ["testapp.Event", "testapp.Topic"],
                    "tags": [
                        f"testapp.Event:{a.pk}",
                        f"testapp.Event:{b.pk}",
                        f"testapp.Topic:{topic.pk}",
                    ],
                }
            ],
        )

    def test_a_rolled_back_transaction_tells_nothing(self):
        with self.assertRaises(ZeroDivisionError):
            with transaction.atomic():
                Event.objects.create(title="a")
                1 / 0
        self.assertEqual(self.daemon.bodies(), [])

    def test_a_change_after_a_rolled_back_savepoint_is_still_told(self):
        with transaction.atomic():
            try:
                with transaction.atomic():
                    Event.objects.create(title="gone")
                    raise ValueError
            except ValueError:
                pass
            kept = Event.objects.create(title="kept")
        self.assertEqual(
            self.daemon.bodies(),
            [{"models": ["testapp.Event"], "tags": [f"testapp.Event:{kept.pk}"]}],
        )

    def test_a_delete_posts_the_row_it_removed(self):
        event = Event.objects.create(title="a")
        pk = event.pk
        event.delete()
        self.assertEqual(
            self.daemon.bodies()[-1], {"models": ["testapp.Event"], "tags": [f"testapp.Event:{pk}"]}
        )

    def test_an_unlisted_model_tells_nothing(self):
        Unlisted.objects.create(name="x")
        self.assertEqual(self.daemon.bodies(), [])

    def test_a_proxy_and_a_child_model_tell_the_listed_model(self):
        proxy = EventProxy.objects.create(title="p")
        child = SpecialEvent.objects.create(title="c")
        bodies = self.daemon.bodies()
        self.assertEqual(bodies[0], {"models": ["testapp.Event"], "tags": [f"testapp.Event:{proxy.pk}"]})
        # A child model's save signals the child only: its listed parent is told.
        self.assertIn("testapp.Event", bodies[-1]["models"])
        self.assertIn(f"testapp.Event:{child.pk}", bodies[-1]["tags"])

    @override_settings(PRELOAD_INVALIDATING_MODELS=["testapp.Unlisted"])
    def test_the_setting_is_read_at_each_save(self):
        Event.objects.create(title="a")
        Unlisted.objects.create(name="x")
        self.assertEqual([b["models"] for b in self.daemon.bodies()], [["testapp.Unlisted"]])

    def test_the_token_is_sent_as_a_bearer(self):
        with self.settings(PRELOADD_TOKEN="s3cret"):
            Event.objects.create(title="a")
        self.assertEqual(self.daemon.requests[0]["headers"]["Authorization"], "Bearer s3cret")

    def test_without_a_token_no_authorization_is_sent(self):
        Event.objects.create(title="a")
        self.assertNotIn("Authorization", self.daemon.requests[0]["headers"])

    def test_a_large_transaction_is_sent_in_bounded_posts(self):
        with mock.patch.object(hooks, "MAX_ITEMS", 2):
            with transaction.atomic():
                events = [Event.objects.create(title=str(i)) for i in range(5)]
        bodies = self.daemon.bodies()
        self.assertEqual([len(b["tags"]) for b in bodies], [2, 2, 1])
        self.assertEqual(bodies[0]["models"], ["testapp.Event"])
        self.assertNotIn("models", bodies[1])
        sent = [t for b in bodies for t in b["tags"]]
        self.assertEqual(sent, [f"testapp.Event:{e.pk}" for e in events])

    def test_invalidate_on_commit_joins_the_transactions_post(self):
        with transaction.atomic():
            event = Event.objects.create(title="a")
            invalidate_on_commit(models=[Topic], urls=["/events/"])
        self.assertEqual(
            self.daemon.bodies(),
            [
                {
                    "models": ["testapp.Event", "testapp.Topic"],
                    "tags": [f"testapp.Event:{event.pk}"],
                    "urls": ["/events/"],
                }
            ],
        )


class ManyToMany(HookTestCase):
    def setUp(self):
        super().setUp()
        self.event = Event.objects.create(title="e")
        self.topics = [Topic.objects.create(name=n) for n in "ab"]
        self.daemon.requests.clear()

    def test_add_tells_both_sides_and_their_rows(self):
        self.event.topics.add(*self.topics)
        a, b = (t.pk for t in self.topics)
        self.assertEqual(
            self.daemon.bodies(),
            [
                {
                    "models": ["testapp.Event", "testapp.Topic"],
                    "tags": [f"testapp.Event:{self.event.pk}", f"testapp.Topic:{a}", f"testapp.Topic:{b}"],
                }
            ],
        )

    def test_remove_from_the_reverse_side_tells_both(self):
        self.event.topics.add(self.topics[0])
        self.daemon.requests.clear()
        self.topics[0].event_set.remove(self.event)
        body = self.daemon.bodies()[0]
        self.assertEqual(sorted(body["models"]), ["testapp.Event", "testapp.Topic"])
        self.assertIn(f"testapp.Event:{self.event.pk}", body["tags"])
        self.assertIn(f"testapp.Topic:{self.topics[0].pk}", body["tags"])

    def test_clear_tells_the_other_side_by_its_model(self):
        self.event.topics.add(*self.topics)
        self.daemon.requests.clear()
        self.event.topics.clear()
        self.assertEqual(
            self.daemon.bodies(),
            [{"models": ["testapp.Event", "testapp.Topic"], "tags": [f"testapp.Event:{self.event.pk}"]}],
        )


class WhenTheDaemonFails(TransactionTestCase):
    def test_a_daemon_that_is_down_never_breaks_the_save(self):
        with self.settings(PRELOADD_URL=refused_url()):
            with self.assertLogs("django_preloadd", "WARNING") as logs:
                event = Event.objects.create(title="a")
        self.assertTrue(Event.objects.filter(pk=event.pk).exists())
        self.assertEqual(len(logs.output), 1)
        self.assertIn("preloadd was not told that testapp.Event changed", logs.output[0])

    def test_raise_errors_raises_after_the_commit(self):
        with self.settings(PRELOADD_URL=refused_url(), PRELOAD_RAISE_ERRORS=True):
            with self.assertRaisesMessage(PreloaddError, "/_invalidate"):
                with transaction.atomic():
                    Event.objects.create(title="a")
        # Committed all the same: the error says the cache was not told.
        self.assertEqual(Event.objects.count(), 1)

    def test_a_slow_daemon_is_given_up_on_after_the_timeout(self):
        with FakeDaemon(delay=1.5) as slow, self.settings(PRELOADD_URL=slow.url, PRELOADD_TIMEOUT=0.2):
            started = time.monotonic()
            with self.assertLogs("django_preloadd", "WARNING") as logs:
                Event.objects.create(title="a")
            took = time.monotonic() - started
        self.assertLess(took, 1, "the save waited for the slow daemon")
        self.assertIn("timed out", logs.output[0])

    def test_a_503_is_retried_once(self):
        with FakeDaemon(statuses=[503]) as daemon, self.settings(PRELOADD_URL=daemon.url):
            with mock.patch("django_preloadd.client.RETRY_AFTER_503", 0.01):
                with self.assertNoLogs("django_preloadd", "WARNING"):
                    Event.objects.create(title="a")
            self.assertEqual(len(daemon.requests), 2)

    def test_two_503_are_an_error_naming_the_status(self):
        with FakeDaemon(statuses=[503, 503]) as daemon:
            with self.settings(PRELOADD_URL=daemon.url, PRELOAD_RAISE_ERRORS=True):
                with mock.patch("django_preloadd.client.RETRY_AFTER_503", 0.01):
                    with self.assertRaisesMessage(PreloaddError, "503 invalidation not durable"):
                        Event.objects.create(title="a")
