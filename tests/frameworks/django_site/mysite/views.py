from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.models import User
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


def index(request):
    return HttpResponse("users=%d path=%s script=%s" % (User.objects.count(), request.path, request.META["SCRIPT_NAME"]))


def users(request):
    return JsonResponse({"users": list(User.objects.order_by("username").values_list("username", flat=True))})


def form(request):
    if request.method == "POST":
        return HttpResponse("accepted %s" % request.POST.get("name"))
    token = get_token(request)
    return HttpResponse('<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="%s"></form>' % token)


@require_POST
def login_view(request):
    user = authenticate(request, username=request.POST["username"], password=request.POST["password"])
    if user is None:
        return HttpResponse("bad credentials", status=401)
    login(request, user)
    return HttpResponseRedirect("/app/whoami/")


def whoami(request):
    return HttpResponse("user=%s" % (request.user.username or "anonymous"))


def logout_view(request):
    logout(request)
    return HttpResponseRedirect("/app/whoami/")


@csrf_exempt
def upload(request):
    if request.method != "POST":
        return HttpResponse("post a file", status=405)
    data = request.FILES["file"].read()
    return HttpResponse("uploaded %d bytes, sum %d" % (len(data), sum(data)))


def stream(request):
    return StreamingHttpResponse(("row %d\n" % i for i in range(40)), content_type="text/plain")


def crash(request):
    raise RuntimeError("the Django view failed")
