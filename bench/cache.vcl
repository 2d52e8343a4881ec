vcl 4.1;
# Varnish for the benchmark (see ../shared/BENCH-NOTES.md). BACKEND_PORT is filled in by run.ts.
backend default { .host = "127.0.0.1"; .port = "BACKEND_PORT"; }
sub vcl_recv { if (req.method != "GET" && req.method != "HEAD") { return (pass); } unset req.http.Cookie; return (hash); }
sub vcl_backend_response { if (beresp.status == 200) { set beresp.ttl = 300s; set beresp.grace = 0s; return (deliver); } }
