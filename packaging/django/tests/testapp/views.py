from django.http import HttpResponse
from django.shortcuts import render

from django_preloadd import add_tags, preload_tags, row_tag

from .models import Event


@preload_tags(Event)
def event_list(request):
    return HttpResponse("list")


@preload_tags(lambda request, pk: row_tag(Event, pk), "extra")
def event_detail(request, pk):
    return HttpResponse(f"event {pk}")


def added_in_view(request):
    add_tags(request, "from-view", Event.objects.get(pk=request.GET["pk"]))
    response = HttpResponse("tagged")
    response["X-Preload-Tags"] = "set-by-view"
    return response


def template_tagged(request):
    return render(request, "testapp/tagged.html", {"event": Event.objects.first()})
