"""The list and detail pages say what they depend on (``preload_tags``);
the forms that change rows live outside the snapshot route, so that what
drops the pages is the model hook, not preloadd's write-through.

Each page shows how many times the app has rendered it (``render N``): a
HIT shows the count of the render it was kept from, which is how the
end-to-end test tells that the app was not asked."""

import threading
from collections import Counter

from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from django_preloadd import preload_tags, row_tag

from .models import Event

RENDERS = Counter()
LOCK = threading.Lock()


def rendered(page):
    with LOCK:
        RENDERS[page] += 1
        return RENDERS[page]


@preload_tags(Event)  # X-Preload-Tags: events.Event
def event_list(request):
    order = "title" if request.GET.get("sort") == "title" else "pk"
    return render(
        request,
        "events/list.html",
        {"events": Event.objects.order_by(order), "render": rendered("list")},
    )


@preload_tags(lambda request, pk: row_tag(Event, pk))  # X-Preload-Tags: events.Event:PK
def event_detail(request, pk):
    event = get_object_or_404(Event, pk=pk)
    return render(
        request, "events/detail.html", {"event": event, "render": rendered(f"detail {pk}")}
    )


def add(request):
    if request.method == "POST":
        Event.objects.create(title=request.POST["title"])
        return redirect("/events/")
    return render(request, "events/add.html")


def edit(request, pk):
    event = get_object_or_404(Event, pk=pk)
    if request.method == "POST":
        event.title = request.POST["title"]
        event.save()
        return redirect(event.get_absolute_url())
    return render(request, "events/add.html", {"event": event})


def proxy_check(request):
    """What the app was told about the visitor: a check of the proxies in
    front of it (never kept: no route)."""
    meta = request.META
    names = ["HTTP_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST"]
    return JsonResponse({name: meta.get(name) for name in names})


def renders(request):
    """How many times each page was rendered (never kept: no route)."""
    with LOCK:
        return JsonResponse(dict(RENDERS))
