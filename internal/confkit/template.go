package confkit

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// AttrPattern is an LDAP attribute name as templates use them.
var AttrPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// CheckTemplate checks a template in which {attr} stands for the value of
// attr in the DN's first RDN. With quoted set, every placeholder must sit
// inside a double-quoted string (the SCIM filter case: the value is then
// escaped as a string and cannot change the filter).
func CheckTemplate(s string, quoted bool) (attrs []string, msg string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && inQuote && c == '\\':
			i++
		case quoted && c == '"':
			inQuote = !inQuote
		case c == '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return nil, "has a { without a closing }"
			}
			name := s[i+1 : i+1+end]
			if !AttrPattern.MatchString(name) {
				return nil, fmt.Sprintf("{%s} is not an attribute name", truncateQ(name))
			}
			if quoted && !inQuote {
				return nil, fmt.Sprintf(`placeholder {%s} must be inside a quoted string, as in username eq "{uid}", so its value is escaped`, name)
			}
			attrs = append(attrs, name)
			i += end + 1
		case c == '}':
			return nil, "has a } without an opening {"
		}
	}
	if inQuote {
		return nil, "has an unterminated quoted string"
	}
	return attrs, ""
}

func truncateQ(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.Trim(strconv.Quote(s), `"`)
}
