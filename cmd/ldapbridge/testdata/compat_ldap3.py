#!/usr/bin/python3
"""One client-compatibility scenario with Python's ldap3, for the Go tests.

usage: compat_ldap3.py URL [--starttls] [--ppolicy] SCENARIO ARGS...

  rootdse                             anonymous: read the root DSE and schema
  bind DN PASSWORD                    simple bind
  whoami DN PASSWORD                  bind, then WhoAmI
  passwd DN PASSWORD USER OLD NEW     bind, then Password Modify ("-" = absent)
  search DN PASSWORD BASE             bind, then a base search of BASE

--starttls upgrades the connection before anything else; --ppolicy sends
the password policy request control with the bind and the operation.
TLS certificates are not verified (the demo's is generated at start).

Every line printed is "OPERATION: key=value ..." in a fixed order, with
strings as JSON, so that the Go test can compare whole lines:

  info: vendor=... extensions=OID,OID schema_entry=... searches=N
  bind: result=N description=NAME message="..." ppolicy=P
  whoami: AUTHZID
  passwd: result=N description=NAME message="..." ppolicy=P genpasswd="..."|-
  search: result=N description=NAME message="..." ppolicy=P entries=N
  OPERATION: exception=CLASS message="..."

P is "absent" (no ppolicy response control), "none" (the control with
nothing to report) or "error=N" and/or "warning=KIND:N" (draft-behera).
The info line is what get_info=ALL read: ldap3 reads the root DSE and the
subschema entry after a bind, and "searches" counts the searches it made.
"""

import json
import ssl
import sys

from ldap3 import ALL, BASE, Connection, Server, Tls

PPOLICY = "1.3.6.1.4.1.42.2.27.8.5.1"
PASSWORD_MODIFY = "1.3.6.1.4.1.4203.1.11.1"


def ber_items(data):
    """Splits BER into (tag byte, contents) pairs (definite lengths only)."""
    out, i = [], 0
    while i < len(data):
        tag = data[i]
        n = data[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7F
            if k == 0 or k > 4:
                raise ValueError("unsupported BER length")
            n = int.from_bytes(data[i:i + k], "big")
            i += k
        if i + n > len(data):
            raise ValueError("truncated BER")
        out.append((tag, data[i:i + n]))
        i += n
    return out


def ppolicy(result):
    """Renders the ppolicy response control of an ldap3 result dict."""
    ctl = (result.get("controls") or {}).get(PPOLICY)
    if ctl is None:
        return "absent"
    value = ctl["value"] or b""
    try:
        seq = ber_items(value)
        if len(seq) != 1 or seq[0][0] != 0x30:
            return "malformed"
        parts = []
        for tag, body in ber_items(seq[0][1]):
            if tag == 0xA0:  # warning [0] CHOICE
                ((kind, num),) = ber_items(body)
                name = {0x80: "timeBeforeExpiration", 0x81: "graceAuthNsRemaining"}.get(kind, hex(kind))
                parts.append("warning=%s:%d" % (name, int.from_bytes(num, "big")))
            elif tag == 0x81:  # error [1] ENUMERATED
                parts.append("error=%d" % int.from_bytes(body, "big"))
            else:
                return "malformed"
        return " ".join(parts) if parts else "none"
    except (ValueError, IndexError):
        return "malformed"


def outcome(result):
    return "result=%d description=%s message=%s ppolicy=%s" % (
        result["result"], result["description"], json.dumps(result["message"]), ppolicy(result))


def exception(op, e):
    print("%s: exception=%s message=%s" % (op, type(e).__name__, json.dumps(str(e))))


def info_line(server, conn):
    info = server.info
    if info is None:
        print("info: none")
        return
    vendor = info.vendor_name[0] if info.vendor_name else "-"
    exts = ",".join(sorted(e[0] for e in info.supported_extensions))
    entry = info.schema_entry[0] if isinstance(info.schema_entry, list) else info.schema_entry
    print("info: vendor=%s extensions=%s schema_entry=%s searches=%d" % (
        vendor, exts, entry, conn.usage.search_operations))


def main(argv):
    args = argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    url, args = args[0], args[1:]
    starttls = "--starttls" in args
    want_pp = "--ppolicy" in args
    args = [a for a in args if a not in ("--starttls", "--ppolicy")]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    scenario, params = args[0], args[1:]
    need = {"rootdse": 0, "bind": 2, "whoami": 2, "passwd": 5, "search": 3}
    if need.get(scenario) != len(params):
        print("compat_ldap3.py: bad arguments for %r" % scenario, file=sys.stderr)
        return 2
    controls = [(PPOLICY, False, None)] if want_pp else None

    tls = Tls(validate=ssl.CERT_NONE)
    server = Server(url, get_info=ALL, tls=tls, connect_timeout=10)
    if scenario == "rootdse":
        conn = Connection(server, collect_usage=True, receive_timeout=30)
        conn.open()
        if starttls:
            conn.start_tls(read_server_info=False)
        conn.bind()  # anonymous; reads the root DSE and the schema
        info_line(server, conn)
        conn.unbind()
        return 0

    dn, password = params[0], params[1]
    conn = Connection(server, user=dn, password=password, collect_usage=True, receive_timeout=30)
    conn.open()
    if starttls:
        conn.start_tls(read_server_info=False)
    try:
        # The bind's own result: reading the server's info afterwards
        # replaces conn.result, so it is read explicitly below.
        conn.bind(read_server_info=False, controls=controls)
    except Exception as e:  # ldap3 refuses some binds itself
        exception("bind", e)
        return 0
    print("bind: " + outcome(conn.result))
    if not conn.bound:
        return 0
    conn.refresh_server_info()
    info_line(server, conn)

    if scenario == "whoami":
        print("whoami: %s" % conn.extend.standard.who_am_i())
    elif scenario == "passwd":
        user, old, new = [None if p == "-" else p for p in params[2:]]
        try:
            res = conn.extend.standard.modify_password(
                user=user, old_password=old, new_password=new, controls=controls)
        except Exception as e:
            exception("passwd", e)
            return 0
        gen = json.dumps(res) if isinstance(res, str) else "-"
        print("passwd: %s genpasswd=%s" % (outcome(conn.result), gen))
    elif scenario == "search":
        try:
            conn.search(params[2], "(objectClass=*)", BASE, attributes=["*"], controls=controls)
        except Exception as e:
            exception("search", e)
            return 0
        print("search: %s entries=%d" % (outcome(conn.result), len(conn.entries)))
    conn.unbind()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
