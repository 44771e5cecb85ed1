#!/usr/bin/python3
"""Search-then-bind with Python's ldap3, for the Go tests.

usage: searchbind_ldap3.py URL SERVICE_DN SERVICE_PASSWORD BASE FILTER PASSWORD

Binds as the service account, searches BASE (subtree) for
(&(objectClass=person)FILTER), and binds as the one entry found with
PASSWORD, as applications such as Flask-LDAP3-Login do. Prints
"found=DN bind=RESULT" ("-" for nothing found, no bind).
"""

import sys

from ldap3 import SUBTREE, Connection, Server


def main(argv):
    url, sdn, spw, base, flt, pw = argv[1:7]
    server = Server(url)
    svc = Connection(server, user=sdn, password=spw)
    if not svc.bind():
        print("service bind failed: %s" % svc.result)
        return 1
    svc.search(base, "(&(objectClass=person)%s)" % flt, search_scope=SUBTREE, attributes=["cn", "mail"])
    if len(svc.entries) != 1:
        print("found=- bind=-" if not svc.entries else "found=%d" % len(svc.entries))
        return 0
    dn = svc.entries[0].entry_dn
    user = Connection(server, user=dn, password=pw)
    user.bind()
    print("found=%s bind=%d" % (dn, user.result["result"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
