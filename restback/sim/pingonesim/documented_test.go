package pingonesim

import (
	"net/http"
	"testing"
)

// A check of a user without a password is the Password Check page's 400
// for NO_PASSWORD, in the Error codes page's envelope, with the detail
// code NO_PASSWORD of the public OpenAPI description
// (pingidentity/pingone-go-client BadRequestErrorDetailCode). A detailed
// 400 carries the Update Password (Set) page's top-level message.
func TestNoPasswordCheckBody(t *testing.T) {
	f := newFixture(t, Config{})
	id, err := f.s.AddUser("nopw", "nopw@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	status, body := f.check(id, "Any-Passw0rd!")
	d := detail(t, body)
	if status != http.StatusBadRequest || body["code"] != "INVALID_DATA" || body["message"] != msgInvalidData ||
		d["code"] != "NO_PASSWORD" || d["target"] != "password" || body["id"] == "" {
		t.Fatalf("check without a password: %d %v", status, body)
	}
	// A wrong password: the same envelope, detail INVALID_VALUE.
	status, body = f.check(f.alice, "Wrong-Passw0rd!")
	if d := detail(t, body); status != http.StatusBadRequest || body["message"] != msgInvalidData || d["code"] != "INVALID_VALUE" {
		t.Fatalf("wrong password: %d %v", status, body)
	}
}
