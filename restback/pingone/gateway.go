package pingone

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Error is a failed ResolveUser or SetGateway, with the LDAP outcome the
// bridge would have answered (its diagnostic holds no password).
type Error struct {
	Op      string
	DN      string
	Outcome bridge.Outcome
}

func (e *Error) Error() string {
	return fmt.Sprintf("pingone: %s %q: %s: %s", e.Op, e.DN, e.Outcome.Code, e.Outcome.Diagnostic)
}

// ResolveUser returns the id of the PingOne user dn maps to.
func (c *Client) ResolveUser(ctx context.Context, dn string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u, oe := c.resolve(ctx, dn)
	if oe != nil {
		return "", &Error{Op: "resolve user", DN: dn, Outcome: oe.outcome(opChange)}
	}
	return u.id, nil
}

// SetGateway makes the LDAP gateway gw the authority for dn's password
// (password.setGateway): PingOne drops the password it holds and the
// user's status becomes EXTERNAL.
func (c *Client) SetGateway(ctx context.Context, dn string, gw bridge.Gateway) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	fail := func(oe *opError) error {
		out := c.done("set gateway", dn, oe.outcome(opChange))
		return &Error{Op: "set gateway", DN: dn, Outcome: out}
	}
	ref, err := gatewayBody(dn, gw)
	if err != nil {
		return fail(&opError{f: fCorrelation, detail: err.Error()})
	}
	body, err := json.Marshal(ref)
	if err != nil {
		return fail(&opError{f: fCorrelation, detail: "encode the gateway reference"})
	}
	resp, oe := c.userCall(ctx, dn, changeCall, http.MethodPut, mediaSetGateway, body)
	if oe != nil {
		return fail(oe)
	}
	if resp.status/100 != 2 {
		return fail(classify(resp.status, resp.body, resp.requestID))
	}
	if !isJSONMedia(resp.header.Get("Content-Type")) {
		// A 2xx that is not PingOne's JSON (a proxy's page) proves
		// neither that the change was made nor that it was not.
		return fail(&opError{f: fOutcomeUnknown, detail: "a 2xx answer that is not PingOne's JSON", requestID: resp.requestID})
	}
	c.done("set gateway", dn, bridge.Outcome{Code: bridge.Success, RequestID: resp.requestID})
	return nil
}

// BatchSummary is what SetGatewayBatch did.
type BatchSummary struct {
	// Total counts the DNs given (blank lines excepted).
	Total int
	// Changed counts users set to the gateway; in a dry run, users that
	// would be.
	Changed  int
	Failed   int
	DryRun   bool
	Failures []BatchFailure
}

// BatchFailure is one DN that could not be handled.
type BatchFailure struct {
	DN     string
	Reason string
}

// SetGatewayBatch sets gw as the password authority of every DN in turn,
// writing one line per DN to progress ("set", "would set" or "failed",
// tab-separated) and then a summary line. A dry run resolves the users and
// their correlation attributes but changes nothing. It stops early, and
// reports the rest as failed, when ctx ends. For the
// "ldapbridge pingone set-gateway" command.
func SetGatewayBatch(ctx context.Context, c *Client, dns []string, gw bridge.Gateway, dryRun bool, progress io.Writer) BatchSummary {
	if progress == nil {
		progress = io.Discard
	}
	sum := BatchSummary{DryRun: dryRun}
	fail := func(dn, reason string) {
		sum.Failed++
		sum.Failures = append(sum.Failures, BatchFailure{DN: dn, Reason: reason})
		fmt.Fprintf(progress, "failed\t%s\t%s\n", dn, reason)
	}
	for _, dn := range dns {
		dn = strings.TrimSpace(dn)
		if dn == "" {
			continue
		}
		sum.Total++
		if err := ctx.Err(); err != nil {
			fail(dn, "not attempted: "+err.Error())
			continue
		}
		if !dryRun {
			if err := c.SetGateway(ctx, dn, gw); err != nil {
				fail(dn, reason(err))
				continue
			}
			sum.Changed++
			fmt.Fprintf(progress, "set\t%s\n", dn)
			continue
		}
		ref, err := gatewayBody(dn, gw)
		if err != nil {
			fail(dn, (&opError{f: fCorrelation, detail: err.Error()}).Error())
			continue
		}
		id, err := c.ResolveUser(ctx, dn)
		if err != nil {
			fail(dn, reason(err))
			continue
		}
		sum.Changed++
		fmt.Fprintf(progress, "would set\t%s\tuser %s\t%s\n", dn, id, describeCorrelation(ref.CorrelationAttributes))
	}
	verb := "changed"
	if dryRun {
		verb = "would change (dry run)"
	}
	fmt.Fprintf(progress, "%d DNs: %d %s, %d failed\n", sum.Total, sum.Changed, verb, sum.Failed)
	return sum
}

func reason(err error) string {
	if e, ok := err.(*Error); ok {
		return fmt.Sprintf("%s: %s", e.Outcome.Code, e.Outcome.Diagnostic)
	}
	return err.Error()
}

func describeCorrelation(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return "correlation " + strings.Join(parts, ",")
}
