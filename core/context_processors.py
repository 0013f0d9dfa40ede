from core.navigation import menu_for


def navigation(request):
    user = getattr(request, "user", None)
    if user is None:
        return {"menu": []}
    return {"menu": menu_for(user)}
