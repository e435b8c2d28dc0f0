"""Pages of the membership programme (shopper pages, the guide's member pages, the dashboard)."""

urlpatterns: list = []
