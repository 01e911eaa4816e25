from django.template import Context, Template, TemplateSyntaxError
from django.test import RequestFactory, SimpleTestCase


def render(source, **context):
    return Template("{% load static_preload %}" + source).render(Context(context))


class StaticPreloadTag(SimpleTestCase):
    def test_renders_the_preload_url_with_the_seed_rule(self):
        request = RequestFactory().get("/events/", {"lang": "en", "page": "2"})
        out = render(
            '{% static_preload "/events/" "q=1" request.GET.urlencode %}', request=request
        )
        self.assertEqual(out, "/_preload/events/?q=1&amp;lang=en&amp;page=2")

    def test_is_not_escaped_where_autoescape_is_off(self):
        out = render('{% autoescape off %}{% static_preload "/a" "b=1" "c=2" %}{% endautoescape %}')
        self.assertEqual(out, "/_preload/a?b=1&c=2")

    def test_an_unresolvable_path_renders_as_an_empty_string(self):
        self.assertEqual(render('[{% static_preload missing.path "q=1" %}]'), "[]")

    def test_unresolvable_parameters_are_skipped(self):
        out = render('{% static_preload "/a" nothing "b=1" request.GET.urlencode %}')
        self.assertEqual(out, "/_preload/a?b=1")

    def test_unresolvable_is_not_string_if_invalid(self):
        templates = [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {"string_if_invalid": "INVALID"},
            }
        ]
        with self.settings(TEMPLATES=templates):
            self.assertEqual(render('{% static_preload "/a" nothing "b=1" %}'), "/_preload/a?b=1")
            self.assertEqual(render("[{% static_preload nothing %}]"), "[]")

    def test_empty_parameters_are_skipped_and_separators_trimmed(self):
        out = render('{% static_preload path "" "?a=1&" empty %}', path="/p/", empty="")
        self.assertEqual(out, "/_preload/p/?a=1")

    def test_variables_and_filters_resolve(self):
        out = render('{% static_preload base|add:"list/" page %}', base="/events/", page="page=3")
        self.assertEqual(out, "/_preload/events/list/?page=3")

    def test_uses_the_configured_prefix(self):
        with self.settings(PRELOADD_PREFIX="/static-preload/"):
            self.assertEqual(render('{% static_preload "/a/" "b=1" %}'), "/static-preload/a/?b=1")

    def test_as_stores_the_url_in_the_context(self):
        out = render('{% static_preload "/a" "b=1" as url %}<{{ url }}>')
        self.assertEqual(out, "</_preload/a?b=1>")

    def test_without_a_path_is_a_syntax_error(self):
        with self.assertRaisesMessage(TemplateSyntaxError, "takes a path"):
            render("{% static_preload %}")
