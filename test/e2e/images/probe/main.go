// probe: the process the real-node scenario runs in its pods.
//
//	probe write FILE TEXT   write TEXT to FILE and exit 0 (an init container)
//	probe serve PORT        HTTP server:
//	  /healthz  200, or 500 after POST /fail-liveness
//	  /ready    200, or 503 after POST /unready (POST /ready undoes it)
//	  /check    JSON: uid, gid, CapEff, whether / is writable, the files named
//	            in $PROBE_FILES (comma-separated), $POD_NAME
//	  /get?url= the status and body of a GET to url (a client inside the pod)
//	  /whoami   $POD_NAME
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: probe write FILE TEXT | probe serve PORT")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "write":
		if err := os.WriteFile(os.Args[2], []byte(strings.Join(os.Args[3:], " ")), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("wrote", os.Args[2])
	case "serve":
		serve(os.Args[2])
	default:
		os.Exit(2)
	}
}

func serve(port string) {
	var unready, dead atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if dead.Load() {
			http.Error(w, "liveness failed on request", 500)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/fail-liveness", func(w http.ResponseWriter, r *http.Request) { dead.Store(true) })
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			unready.Store(false)
		default:
			if unready.Load() {
				http.Error(w, "not ready", 503)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/unready", func(w http.ResponseWriter, r *http.Request) { unready.Store(true) })
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, os.Getenv("POD_NAME")) })
	mux.HandleFunc("/check", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{"uid": os.Getuid(), "gid": os.Getgid(), "pod": os.Getenv("POD_NAME")}
		if status, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, l := range strings.Split(string(status), "\n") {
				if strings.HasPrefix(l, "CapEff:") || strings.HasPrefix(l, "CapBnd:") || strings.HasPrefix(l, "NoNewPrivs:") {
					k, v, _ := strings.Cut(l, ":")
					out[k] = strings.TrimSpace(v)
				}
			}
		}
		f, err := os.Create("/probe-write-test")
		out["rootWritable"] = err == nil
		if err == nil {
			f.Close()
			os.Remove("/probe-write-test")
		} else {
			out["rootWriteError"] = err.Error()
		}
		files := map[string]string{}
		for _, p := range strings.Split(os.Getenv("PROBE_FILES"), ",") {
			if p == "" {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				files[p] = "ERROR " + err.Error()
			} else {
				files[p] = string(b)
			}
		}
		out["files"] = files
		w.Header().Set("content-type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	client := &http.Client{Timeout: 5 * time.Second}
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		w.Header().Set("content-type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"status": resp.StatusCode, "body": string(b)})
	})
	s := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Println("probe serving on", s.Addr)
	if err := s.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
