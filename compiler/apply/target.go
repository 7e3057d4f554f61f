package apply

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseTarget parses "NAME=URL" (a -device flag) or "NAME URL" (a line of
// a devices file). The URL is the device's API base, "http://192.0.2.10";
// a "user:password@" part in it is taken as the login and removed from the
// URL, otherwise user and password are the defaults given.
func ParseTarget(spec, defaultUser, defaultPassword string) (string, Target, error) {
	name, raw, ok := strings.Cut(spec, "=")
	if !ok {
		name, raw, ok = strings.Cut(strings.TrimSpace(spec), " ")
	}
	name, raw = strings.TrimSpace(name), strings.TrimSpace(raw)
	if !ok || name == "" || raw == "" {
		return "", Target{}, fmt.Errorf("want NAME=URL, as in gate=http://192.0.2.10")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", Target{}, fmt.Errorf("device %q: %q is not an http or https URL", name, redact(raw))
	}
	t := Target{User: defaultUser, Password: defaultPassword}
	if u.User != nil {
		t.User = u.User.Username()
		if p, ok := u.User.Password(); ok {
			t.Password = p
		}
		u.User = nil
	}
	t.URL = strings.TrimSuffix(u.String(), "/")
	return name, t, nil
}

// ParseTargets reads a devices file: one "NAME URL" per line, "#"
// comments and blank lines ignored.
func ParseTargets(text, defaultUser, defaultPassword string) (map[string]Target, error) {
	out := map[string]Target{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, t, err := ParseTarget(line, defaultUser, defaultPassword)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("line %d: device %q is listed twice", n+1, name)
		}
		out[name] = t
	}
	return out, nil
}

// redact hides the password of a URL in messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			return "…" + raw[at:]
		}
		return raw
	}
	return u.Redacted()
}
