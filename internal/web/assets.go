package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded file served at a content-hashed URL.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// assets maps each file's logical name (app.css) to its hashed URL
// (/static/app.1a2b3c4d5e.css) and serves the hashed names with a year of
// caching: a new build changes the names, never the content behind one.
type assets struct {
	urls   map[string]string // logical name → URL
	byName map[string]asset  // hashed file name → asset
}

func loadAssets() (*assets, error) {
	a := &assets{urls: map[string]string{}, byName: map[string]asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])[:12]
		name := path.Base(p)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + h + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			return fmt.Errorf("web: asset %s: unknown content type", name)
		}
		a.urls[name] = "/static/" + hashed
		a.byName[hashed] = asset{body: b, ctype: ctype, etag: `"` + h + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: assets: %w", err)
	}
	for _, need := range []string{"app.css", "app.js", "icon.svg"} {
		if a.urls[need] == "" {
			return nil, fmt.Errorf("web: asset %s is missing", need)
		}
	}
	return a, nil
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request) {
	as, ok := a.byName[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", as.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", as.etag)
	if r.Header.Get("If-None-Match") == as.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(as.body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(as.body)
}
