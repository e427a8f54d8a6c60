package auth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shiplog-dev/shiplog/internal/config"
)

func TestRouterRefusesRoutesOutsideTheTable(t *testing.T) {
	a := &Auth{cfg: config.Auth{Mode: config.AuthToken}}
	r := a.NewRouter(http.NewServeMux(), []Rule{{Pattern: "GET /a", Need: Viewer}, {Pattern: "GET /unused", Need: Admin}})
	r.Handle("GET /a", http.NotFoundHandler())
	r.Handle("GET /sneaky", http.NotFoundHandler())
	err := r.Err()
	if err == nil || !strings.Contains(err.Error(), `"GET /sneaky" is not in the access-control route table`) || !strings.Contains(err.Error(), "GET /unused") {
		t.Errorf("Err = %v, want it to name the unlisted route and the unused rule", err)
	}
	if got := r.Mounted(); len(got) != 1 || got[0] != "GET /a" {
		t.Errorf("Mounted = %v, want only the listed route", got)
	}
}

func TestLocalPathRefusesOpenRedirects(t *testing.T) {
	for in, want := range map[string]string{
		"/apps?x=1": "/apps?x=1", "": "/", "https://evil.example/": "/", "//evil.example": "/", "/\\evil.example": "/",
		"/ok\r\nSet-Cookie: x": "/", "apps": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
