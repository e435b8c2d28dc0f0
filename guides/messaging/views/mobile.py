"""The guide's 消息 tab."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from retail.pages import staff_required


@staff_required
@require_GET
def inbox(request):
    return render(request, "staff/messages.html", {"tab": "messages"})
