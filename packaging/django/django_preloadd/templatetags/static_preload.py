"""``{% load static_preload %}``

``{% static_preload "/path" "q=1" request.GET.urlencode %}`` renders the
preload URL of ``/path`` with the parameter strings joined by the seed's
rule (:mod:`django_preloadd.join`, the same as ``preloadd url``) under
``PRELOADD_PREFIX``: ``/_preload/path?q=1&...``. As in the origin tag, a
path that cannot be resolved renders as an empty string, and parameters
that cannot be resolved are skipped. ``... as name`` stores the URL in the
context instead of rendering it.

``{% preload_tags "events.Event" event %}`` tags the page being made
(needs ``PreloadTagsMiddleware`` and the ``request`` context processor);
it renders nothing.
"""

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.utils.html import conditional_escape

from .. import conf
from ..join import preload_url
from ..tags import add_tags

register = template.Library()


def _arguments(parser, token):
    bits = token.split_contents()
    name, bits = bits[0], bits[1:]
    asvar = None
    if len(bits) >= 2 and bits[-2] == "as":
        asvar, bits = bits[-1], bits[:-2]
    return name, [parser.compile_filter(bit) for bit in bits], asvar


def _resolve(expression, context):
    """The value, or None when the variable cannot be resolved."""
    return expression.resolve(context, ignore_failures=True)


class StaticPreloadNode(template.Node):
    def __init__(self, path, params, asvar):
        self.path = path
        self.params = params
        self.asvar = asvar

    def render(self, context):
        path = _resolve(self.path, context)
        if path is None:
            url = ""
        else:
            params = [str(p) for p in (_resolve(e, context) for e in self.params) if p is not None]
            url = preload_url(conf.get("PRELOADD_PREFIX"), str(path), params)
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag("static_preload")
def static_preload(parser, token):
    name, expressions, asvar = _arguments(parser, token)
    if not expressions:
        raise template.TemplateSyntaxError(
            f"'{name}' takes a path and optional query strings: "
            f'{{% {name} "/path" "q=1" request.GET.urlencode %}}'
        )
    return StaticPreloadNode(expressions[0], expressions[1:], asvar)


class PreloadTagsNode(template.Node):
    def __init__(self, specs):
        self.specs = specs

    def render(self, context):
        request = context.get("request")
        if request is None:
            raise ImproperlyConfigured(
                "{% preload_tags %} needs the request in the context "
                "(django.template.context_processors.request)"
            )
        values = [_resolve(spec, context) for spec in self.specs]
        add_tags(request, *(v for v in values if v is not None))
        return ""


@register.tag("preload_tags")
def preload_tags(parser, token):
    name, expressions, asvar = _arguments(parser, token)
    if asvar or not expressions:
        raise template.TemplateSyntaxError(f"'{name}' takes one or more tags, models or rows")
    return PreloadTagsNode(expressions)
