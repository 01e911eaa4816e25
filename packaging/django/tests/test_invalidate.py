from django.test import SimpleTestCase, override_settings

from django_preloadd import PreloaddError, invalidate

from .fake_daemon import FakeDaemon, refused_url
from .testapp.models import Event


class Invalidate(SimpleTestCase):
    def test_posts_what_it_names_and_returns_the_count(self):
        with FakeDaemon() as daemon, override_settings(PRELOADD_URL=daemon.url + "/"):
            n = invalidate(tags=["front"], models=[Event, "testapp.Topic"], urls=["/_preload/a/"], soft=True)
        self.assertEqual(n, 3)
        self.assertEqual(
            daemon.bodies(),
            [
                {
                    "tags": ["front"],
                    "models": ["testapp.Event", "testapp.Topic"],
                    "urls": ["/_preload/a/"],
                    "soft": True,
                }
            ],
        )
        self.assertEqual(daemon.requests[0]["path"], "/_invalidate")

    def test_all_and_prefixes(self):
        with FakeDaemon() as daemon, override_settings(PRELOADD_URL=daemon.url):
            invalidate(prefixes=["/news/"], all=True)
        self.assertEqual(daemon.bodies(), [{"prefixes": ["/news/"], "all": True}])

    @override_settings(PRELOADD_INVALIDATE_PATH="/hooks/preloadd")
    def test_the_path_follows_the_setting(self):
        with FakeDaemon() as daemon, override_settings(PRELOADD_URL=daemon.url):
            invalidate(tags=["a"])
        self.assertEqual(daemon.requests[0]["path"], "/hooks/preloadd")

    def test_naming_nothing_is_refused_before_any_call(self):
        with self.assertRaisesMessage(ValueError, "names nothing"):
            invalidate(soft=True)

    def test_a_refusal_raises_whatever_raise_errors_says(self):
        with FakeDaemon(statuses=[401]) as daemon, override_settings(PRELOADD_URL=daemon.url):
            with self.assertRaisesMessage(PreloaddError, "401"):
                invalidate(tags=["a"])

    def test_no_daemon_raises_one_line_naming_the_address(self):
        url = refused_url()
        with override_settings(PRELOADD_URL=url):
            with self.assertRaises(PreloaddError) as caught:
                invalidate(tags=["a"])
        message = str(caught.exception)
        self.assertIn(f"POST {url}/_invalidate", message)
        self.assertNotIn("\n", message)

    @override_settings(PRELOADD_URL=None)
    def test_no_url_says_so(self):
        with self.assertRaisesMessage(PreloaddError, "PRELOADD_URL is not set"):
            invalidate(tags=["a"])
