#!/bin/sh
# Runs Apache httpd with mod_wsgi in the foreground on $HOST:$PORT, serving the WSGI file given as $1 (default
# app.py), the way a user would wrap it for Berth: write a minimal config into a temp dir, start apache2 as a
# child, relay TERM/INT/QUIT to it, wait for it, clean up.
set -eu
PATH=$PATH:/usr/sbin  # apache2 is in /usr/sbin
app=$(realpath "${1:-app.py}")
modules=/usr/lib/apache2/modules
run=$(mktemp -d /tmp/berth-apache.XXXXXX)
chmod 755 "$run"
cp "$app" "$run/app.wsgi"
chmod 644 "$run/app.wsgi"
cat > "$run/httpd.conf" <<CONF
ServerRoot "$run"
DefaultRuntimeDir "$run"
PidFile "$run/httpd.pid"
Mutex file:$run
ServerName ${HOST}
Listen ${HOST}:${PORT}
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule wsgi_module $modules/mod_wsgi.so
User www-data
Group www-data
StartServers 2
ServerLimit 2
ThreadsPerChild 4
MaxRequestWorkers 8
MinSpareThreads 2
MaxSpareThreads 8
ErrorLog /dev/stderr
LogLevel info
WSGIDaemonProcess app processes=2 threads=2 home=$run
WSGIProcessGroup app
WSGIApplicationGroup %{GLOBAL}
WSGISocketPrefix $run/wsgi
WSGIScriptAlias / $run/app.wsgi
<Directory "$run">
  Require all granted
</Directory>
CONF

apache=
relay() {
  echo "apache-wsgi.sh: SIG$1: relaying it to apache2 (pid $apache)" >&2
  kill -"$1" "$apache" 2>/dev/null || true
}
trap 'relay TERM' TERM
trap 'relay INT' INT
trap 'relay QUIT' QUIT
echo "apache-wsgi.sh: config in $run" >&2
apache2 -DFOREGROUND -f "$run/httpd.conf" &
apache=$!
status=0
# wait returns early (status > 128) when a trapped signal arrives: wait again until apache itself has exited
while kill -0 "$apache" 2>/dev/null; do
  wait "$apache" && status=0 || status=$?
done
rm -rf "$run"
echo "apache-wsgi.sh: apache2 exited with status $status" >&2
exit "$status"
