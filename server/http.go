package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/server/webui"
	"vigil/wire"
)

// Limits of the HTTP API.
const (
	// maxBody bounds a request body.
	maxBody = 1 << 20
	// maxHuntBody bounds a hunt request: its rules may be
	// wire.MaxRulesSize bytes, and JSON escaping can grow them.
	maxHuntBody = 6*wire.MaxRulesSize + maxBody
)

// handler is the HTTP API, /healthz, /metrics and the web UI.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("POST /api/v1/enroll", s.handleEnroll)
	mux.HandleFunc("GET /metrics", s.authed(s.handleMetrics))

	v := s.svc
	mux.HandleFunc("GET /api/v1/whoami", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		writeJSON(w, http.StatusOK, by)
	}))
	mux.HandleFunc("GET /api/v1/operators", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		s.reply(w, r)(v.Operators(r.Context(), by))
	}))
	mux.HandleFunc("POST /api/v1/operators", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		var req api.OperatorRequest
		if err := readJSON(w, r, maxBody, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		created, err := v.CreateOperator(r.Context(), by, req)
		s.replyCode(w, r, http.StatusCreated, created, err)
	}))
	mux.HandleFunc("GET /api/v1/agents", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		s.reply(w, r)(v.Agents(r.Context(), by))
	}))
	mux.HandleFunc("GET /api/v1/agents/{id}", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		s.reply(w, r)(v.Agent(r.Context(), by, r.PathValue("id")))
	}))
	mux.HandleFunc("GET /api/v1/tokens", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		s.reply(w, r)(v.Tokens(r.Context(), by))
	}))
	mux.HandleFunc("POST /api/v1/tokens", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		var req api.TokenRequest
		if err := readJSON(w, r, maxBody, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		created, err := v.CreateToken(r.Context(), by, req)
		s.replyCode(w, r, http.StatusCreated, created, err)
	}))
	mux.HandleFunc("DELETE /api/v1/tokens/{id}", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		if err := v.RevokeToken(r.Context(), by, r.PathValue("id")); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /api/v1/hunts", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		s.reply(w, r)(v.Hunts(r.Context(), by))
	}))
	mux.HandleFunc("POST /api/v1/hunts", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		var req api.HuntRequest
		if err := readJSON(w, r, maxHuntBody, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		h, err := v.CreateHunt(r.Context(), by, req)
		s.replyCode(w, r, http.StatusCreated, h, err)
	}))
	mux.HandleFunc("GET /api/v1/hunts/{id}", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		s.reply(w, r)(v.Hunt(r.Context(), by, r.PathValue("id")))
	}))
	mux.HandleFunc("POST /api/v1/hunts/{id}/cancel", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		s.reply(w, r)(v.CancelHunt(r.Context(), by, r.PathValue("id")))
	}))
	mux.HandleFunc("GET /api/v1/hunts/{id}/agents", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		s.reply(w, r)(v.Assignments(r.Context(), by, r.PathValue("id")))
	}))
	mux.HandleFunc("GET /api/v1/hunts/{id}/results", s.authed(s.handleResults))
	mux.HandleFunc("GET /api/v1/hunts/{id}/export", s.authed(s.handleExport))
	mux.HandleFunc("POST /api/v1/hunts/{id}/approve", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		var req api.ApprovalRequest
		if err := readJSON(w, r, maxBody, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.reply(w, r)(v.ApproveHunt(r.Context(), by, r.PathValue("id"), req))
	}))
	mux.HandleFunc("PUT /api/v1/whoami/key", s.authed(func(w http.ResponseWriter, r *http.Request, by api.Operator) {
		var req api.KeyRequest
		if err := readJSON(w, r, maxBody, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.reply(w, r)(v.SetKey(r.Context(), by, req))
	}))
	s.logRoutes(mux)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, api.Errorf(http.StatusNotFound, "no API route %s %s", r.Method, r.URL.Path))
	})
	mux.Handle("/", webui.New(s.svc, webui.Options{Secure: s.tls != nil, Logf: s.logf}))
	return mux
}

// authed wraps a handler that needs an operator.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, api.Operator)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			s.writeError(w, r, api.Errorf(http.StatusUnauthorized, "missing API token: send \"Authorization: Bearer TOKEN\""))
			return
		}
		by, err := s.svc.Authenticate(r.Context(), tok)
		if err != nil {
			if api.Code(err) == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="vigil", error="invalid_token"`)
			}
			s.writeError(w, r, err)
			return
		}
		h(w, r, by)
	}
}

// reply returns a function writing (v, err) as 200 JSON or an error.
func (s *Server) reply(w http.ResponseWriter, r *http.Request) func(v any, err error) {
	return func(v any, err error) { s.replyCode(w, r, http.StatusOK, v, err) }
}

func (s *Server) replyCode(w http.ResponseWriter, r *http.Request, code int, v any, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, code, v)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal server error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(data, '\n'))
}

// writeError writes err as an api.Error. The text of server errors (500)
// stays in the log: it may name internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := api.Code(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		s.logf("http: %s %s: %v", r.Method, r.URL.Path, err)
		msg = "internal server error (see the server's log)"
	}
	writeJSON(w, code, api.Error{Error: msg})
}

// readJSON decodes one JSON value of at most limit bytes, refusing unknown
// fields.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	d := json.NewDecoder(body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return api.Errorf(http.StatusRequestEntityTooLarge, "request body over %d bytes", limit)
		}
		return api.Errorf(http.StatusBadRequest, "malformed JSON body: %v", err)
	}
	if d.More() {
		return api.Errorf(http.StatusBadRequest, "malformed JSON body: trailing data")
	}
	return nil
}

// remoteIP is the address the request came from (proxies are not trusted).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if err := readJSON(w, r, maxBody, &req); err != nil {
		s.enrollLimit.fail(remoteIP(r))
		s.writeError(w, r, err)
		return
	}
	reply, err := s.svc.Enroll(r.Context(), req, remoteIP(r))
	s.replyCode(w, r, http.StatusOK, reply, err)
}

func (s *Server) handleResults(w http.ResponseWriter, r *http.Request, by api.Operator) {
	q := r.URL.Query()
	f := store.ResultFilter{AgentID: q.Get("agent"), Rule: q.Get("rule"), Path: q.Get("path")}
	var err error
	if a := q.Get("after"); a != "" {
		if f.After, err = strconv.ParseInt(a, 10, 64); err != nil {
			s.writeError(w, r, api.Errorf(http.StatusBadRequest, "after %q: not a number", a))
			return
		}
	}
	if l := q.Get("limit"); l != "" {
		if f.Limit, err = strconv.Atoi(l); err != nil {
			s.writeError(w, r, api.Errorf(http.StatusBadRequest, "limit %q: not a number", l))
			return
		}
	}
	s.reply(w, r)(s.svc.Results(r.Context(), by, r.PathValue("id"), f))
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request, by api.Operator) {
	id := r.PathValue("id")
	format := r.URL.Query().Get("format")
	if format == "" {
		format = FormatJSONL
	}
	ew := &exportWriter{w: w, id: id, format: format}
	if err := s.svc.Export(r.Context(), by, id, format, ew); err != nil {
		if !ew.started {
			s.writeError(w, r, err)
			return
		}
		// The status line is sent: break the connection so that the
		// client cannot take a cut export for a whole one.
		s.logf("http: export of hunt %s cut: %v", id, err)
		panic(http.ErrAbortHandler)
	}
	if !ew.started {
		ew.header() // no results: still a valid, empty export
	}
}

// exportWriter sends the export's headers with its first byte, so that an
// error found before any output still gets a JSON error response.
type exportWriter struct {
	w          http.ResponseWriter
	id, format string
	started    bool
}

func (e *exportWriter) header() {
	e.started = true
	h := e.w.Header()
	if e.format == FormatCSV {
		h.Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "hunt-"+e.id+"."+e.format))
	h.Set("Cache-Control", "no-store")
	e.w.WriteHeader(http.StatusOK)
}

func (e *exportWriter) Write(p []byte) (int, error) {
	if !e.started {
		e.header()
	}
	return e.w.Write(p)
}

var _ webui.Backend = (*Service)(nil)
