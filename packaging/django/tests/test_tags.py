from django.http import HttpResponse
from django.test import RequestFactory, SimpleTestCase, TestCase, override_settings

from django_preloadd import add_tags, preload_tags, row_tag

from .testapp.models import Event


class Decorator(SimpleTestCase):
    def call(self, view, *args, **kwargs):
        return view(RequestFactory().get("/"), *args, **kwargs)

    def test_names_models_and_callables_become_the_header(self):
        @preload_tags("front", Event, lambda request, pk: row_tag(Event, pk), None)
        def view(request, pk):
            return HttpResponse("x")

        response = self.call(view, pk=7)
        self.assertEqual(response["X-Preload-Tags"], "front testapp.Event testapp.Event:7")

    def test_a_callable_may_return_several_or_none(self):
        @preload_tags(lambda request: ["a", "b"], lambda request: None)
        def view(request):
            return HttpResponse("x")

        self.assertEqual(self.call(view)["X-Preload-Tags"], "a b")

    def test_tags_already_set_are_kept_and_not_repeated(self):
        @preload_tags("b", "c")
        def view(request):
            response = HttpResponse("x")
            response["X-Preload-Tags"] = "a, b"
            return response

        self.assertEqual(self.call(view)["X-Preload-Tags"], "a b c")

    def test_no_tags_no_header(self):
        @preload_tags(lambda request: None)
        def view(request):
            return HttpResponse("x")

        self.assertNotIn("X-Preload-Tags", self.call(view))

    def test_a_name_with_a_separator_is_refused(self):
        @preload_tags("two words")
        def view(request):
            return HttpResponse("x")

        with self.assertRaisesMessage(ValueError, "cannot hold spaces"):
            self.call(view)

    @override_settings(PRELOADD_TAGS_HEADER="X-Page-Tags")
    def test_the_header_name_follows_the_setting(self):
        @preload_tags("a")
        def view(request):
            return HttpResponse("x")

        response = self.call(view)
        self.assertEqual(response["X-Page-Tags"], "a")
        self.assertNotIn("X-Preload-Tags", response)

    def test_add_tags_without_the_middleware_says_so(self):
        with self.assertRaisesMessage(RuntimeError, "PreloadTagsMiddleware"):
            add_tags(RequestFactory().get("/"), "a")


class Middleware(TestCase):
    """Through the test client: tests/settings.py installs the middleware."""

    def test_the_decorator_under_the_middleware(self):
        self.assertEqual(self.client.get("/events/")["X-Preload-Tags"], "testapp.Event")
        self.assertEqual(
            self.client.get("/events/5/")["X-Preload-Tags"], "testapp.Event:5 extra"
        )

    def test_tags_added_in_a_view_join_those_it_set(self):
        event = Event.objects.create(title="a")
        response = self.client.get("/in-view/", {"pk": event.pk})
        self.assertEqual(
            response["X-Preload-Tags"], f"set-by-view from-view testapp.Event:{event.pk}"
        )

    def test_the_template_tag_tags_the_page(self):
        event = Event.objects.create(title="a")
        response = self.client.get("/in-template/", {"lang": "en"})
        self.assertEqual(response["X-Preload-Tags"], f"events testapp.Event:{event.pk}")
        self.assertContains(response, 'href="/_preload/events/?page=2&amp;lang=en"')
