from django.urls import path

from kameng.support import views

app_name = "support"
urlpatterns = [
    path("tickets/", views.my_tickets, name="tickets"),
    path("tickets/new/", views.new_ticket, name="new-ticket"),
    path("tickets/<slug:ticket_no>/", views.ticket, name="ticket"),
    path("tickets/<slug:ticket_no>/decide/", views.decide, name="decide"),
    path("attachments/<int:message_id>/", views.attachment, name="attachment"),
    path("complaints/new/", views.new_complaint, name="new-complaint"),
    path("queue/", views.queue, name="queue"),
    path("evidence.json", views.evidence_json, name="evidence-json"),
    path("evidence.pdf", views.evidence_pdf, name="evidence-pdf"),
]
