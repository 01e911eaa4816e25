"""The seed's joining rule, case for case as src/key/tests.rs has it for
the daemon (tests/django_e2e.rs also compares with `preloadd url`)."""

from django.test import SimpleTestCase

from django_preloadd.join import join_params, preload_url


class JoinParams(SimpleTestCase):
    def test_the_seed_rule(self):
        self.assertEqual(
            join_params("/something/to/preload", ["query=foo&page=bar", "?a=1&", ""]),
            "/something/to/preload?query=foo&page=bar&a=1",
        )
        self.assertEqual(join_params("/a", ["", "?", "&&"]), "/a")
        self.assertEqual(join_params("/a?x=1", ["&b=2"]), "/a?x=1&b=2")
        self.assertEqual(join_params("/a?", ["b=2", "c=3"]), "/a?b=2&c=3")

    def test_a_path_ending_in_an_ampersand_takes_the_next_parameter_as_is(self):
        self.assertEqual(join_params("/a?x=1&", ["b=2"]), "/a?x=1&b=2")

    def test_only_one_leading_question_mark_is_stripped(self):
        self.assertEqual(join_params("/a", ["??b=1"]), "/a??b=1")

    def test_no_parameters_leave_the_path_alone(self):
        self.assertEqual(join_params("/a/?", []), "/a/?")


class PreloadUrl(SimpleTestCase):
    def test_prefixes_the_joined_target(self):
        self.assertEqual(
            preload_url("/_preload", "/something/to/preload", ["query=foo&page=bar", "?a=1&", ""]),
            "/_preload/something/to/preload?query=foo&page=bar&a=1",
        )
        self.assertEqual(preload_url("/_preload/", "a", []), "/_preload/a")

    def test_the_public_helper_uses_the_configured_prefix(self):
        from django_preloadd import preload_url as helper

        with self.settings(PRELOADD_PREFIX="/static-preload"):
            self.assertEqual(helper("/a/", "b=1", None, "&c=2"), "/static-preload/a/?b=1&c=2")
        self.assertEqual(helper("/a/"), "/_preload/a/")
