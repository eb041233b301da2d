from django.urls import path

from chat import views
from chat.widget import views as widget_views

app_name = "chat"
urlpatterns = [
    path("", views.home, name="home"),
    path("widget.js", widget_views.widget_script, name="widget-script"),
    path("widget/config", widget_views.widget_config, name="widget-config"),
    path("widget/avatars/<int:user_id>", widget_views.agent_avatar, name="widget-agent-avatar"),
    path("demo/", widget_views.demo_page, name="demo"),
]
