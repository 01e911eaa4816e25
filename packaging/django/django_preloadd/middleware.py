"""``PreloadTagsMiddleware``: collects the tags that a view, its templates
and any code with the request add while the page is made
(``django_preloadd.add_tags``, ``{% preload_tags %}``,
``@preload_tags``), and writes them into the tags header of the response."""

from .tags import ATTRIBUTE, set_header


class PreloadTagsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        setattr(request, ATTRIBUTE, {})
        response = self.get_response(request)
        return set_header(response, list(getattr(request, ATTRIBUTE)))
