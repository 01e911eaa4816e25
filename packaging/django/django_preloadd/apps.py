from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import m2m_changed, post_delete, post_save


class PreloaddConfig(AppConfig):
    name = "django_preloadd"
    verbose_name = "preloadd"

    def ready(self):
        from . import checks as preloadd_checks
        from . import hooks

        checks.register(preloadd_checks.check_settings)
        # Connected for every sender: the hooks look the model up in
        # PRELOAD_INVALIDATING_MODELS at each signal (a set lookup), so a
        # setting changed by a test takes effect and proxies and child
        # models are matched to the listed model.
        post_save.connect(hooks.on_save_or_delete, dispatch_uid="django_preloadd.post_save")
        post_delete.connect(hooks.on_save_or_delete, dispatch_uid="django_preloadd.post_delete")
        m2m_changed.connect(hooks.on_m2m_changed, dispatch_uid="django_preloadd.m2m_changed")
