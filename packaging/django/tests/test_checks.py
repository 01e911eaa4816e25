from django.core import checks
from django.test import SimpleTestCase, override_settings

from django_preloadd.checks import check_settings


def ids(**settings):
    with override_settings(**settings):
        return [m.id for m in check_settings()]


class SettingsCheck(SimpleTestCase):
    def test_the_test_settings_pass(self):
        self.assertEqual(ids(), [])

    def test_it_is_registered_with_the_checks_framework(self):
        with override_settings(PRELOAD_INVALIDATING_MODELS=["events"]):
            found = [m.id for m in checks.run_checks()]
        self.assertIn("django_preloadd.E002", found)

    def test_a_malformed_model_name(self):
        for bad in ["Event", "testapp.Event.extra", "testapp.", ".Event", "test app.Event"]:
            with self.subTest(bad=bad):
                self.assertEqual(ids(PRELOAD_INVALIDATING_MODELS=[bad]), ["django_preloadd.E002"])

    def test_an_unknown_model(self):
        self.assertEqual(
            ids(PRELOAD_INVALIDATING_MODELS=["testapp.Nope", "testapp.Event"]),
            ["django_preloadd.E003"],
        )

    def test_not_a_list_of_strings(self):
        for bad in ["testapp.Event", [Exception], 42]:
            with self.subTest(bad=bad):
                self.assertEqual(ids(PRELOAD_INVALIDATING_MODELS=bad), ["django_preloadd.E001"])

    def test_a_missing_url_with_models_listed(self):
        self.assertEqual(ids(PRELOADD_URL=None), ["django_preloadd.E004"])
        self.assertEqual(ids(PRELOADD_URL=""), ["django_preloadd.E004"])

    def test_a_missing_url_without_models_is_a_warning(self):
        self.assertEqual(
            ids(PRELOADD_URL=None, PRELOAD_INVALIDATING_MODELS=[]), ["django_preloadd.W001"]
        )

    def test_a_url_that_is_no_http_address(self):
        for bad in ["127.0.0.1:8081", "ftp://host", "http://", 8081]:
            with self.subTest(bad=bad):
                self.assertEqual(ids(PRELOADD_URL=bad), ["django_preloadd.E005"])

    def test_a_prefix_or_path_without_a_slash(self):
        self.assertEqual(ids(PRELOADD_PREFIX="_preload"), ["django_preloadd.E006"])
        self.assertEqual(ids(PRELOADD_INVALIDATE_PATH="_invalidate"), ["django_preloadd.E006"])

    def test_the_error_names_the_setting_and_the_value(self):
        with override_settings(PRELOAD_INVALIDATING_MODELS=["events"]):
            (error,) = check_settings()
        self.assertIn("PRELOAD_INVALIDATING_MODELS: 'events' is not app_label.ModelName", error.msg)
