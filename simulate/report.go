package simulate

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the human summary: a line per case, failures with the
// step, the reason, the HCL origin and the SIP ladder, then the totals.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, res := range r.Results {
		switch res.Status {
		case Pass:
			fmt.Fprintf(&b, "ok    %s (%s)\n", res.Name, round(res.Duration))
		case Skip:
			fmt.Fprintf(&b, "skip  %s: %s\n", res.Name, res.Message)
		case Fail:
			fmt.Fprintf(&b, "FAIL  %s (%s)\n", res.Name, round(res.Duration))
			fmt.Fprintf(&b, "      step: %s\n      %s\n", res.Step, res.Message)
			if !res.Origin.IsZero() {
				fmt.Fprintf(&b, "      %s\n", res.Origin)
			}
			if len(res.Ladder) > 0 {
				b.WriteString("      SIP:\n")
				for _, l := range res.Ladder {
					fmt.Fprintf(&b, "        %s\n", l)
				}
			}
		}
	}
	pass, fail, skip := r.Counts()
	fmt.Fprintf(&b, "\n%d passed, %d failed, %d skipped in %s\n", pass, fail, skip, round(r.Duration))
	_, err := io.WriteString(w, b.String())
	return err
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// jsonResult is one line of -json output.
type jsonResult struct {
	Name    string   `json:"name"`
	Status  Status   `json:"status"`
	Seconds float64  `json:"seconds"`
	Step    string   `json:"step,omitempty"`
	Message string   `json:"message,omitempty"`
	Origin  string   `json:"origin,omitempty"`
	Ladder  []string `json:"ladder,omitempty"`
}

// WriteJSON writes one JSON object per case.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	for _, res := range r.Results {
		jr := jsonResult{Name: res.Name, Status: res.Status, Seconds: res.Duration.Seconds(), Step: res.Step, Message: res.Message, Ladder: res.Ladder}
		if !res.Origin.IsZero() {
			jr.Origin = res.Origin.String()
		}
		if err := enc.Encode(jr); err != nil {
			return err
		}
	}
	return nil
}

// JUnit XML, in the shape GitLab, GitHub and Jenkins read: testsuites >
// testsuite > testcase, with failure and skipped children.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML for the site named suite.
func WriteJUnit(w io.Writer, r *Report, suite string) error {
	pass, fail, skip := r.Counts()
	s := junitSuite{Name: suite, Tests: pass + fail + skip, Failures: fail, Skipped: skip, Time: seconds(r.Duration)}
	for _, res := range r.Results {
		c := junitCase{Name: res.Name, Classname: "switchboard." + suite, Time: seconds(res.Duration), File: res.Origin.File, Line: res.Origin.Line}
		switch res.Status {
		case Fail:
			body := "step: " + res.Step + "\n" + res.Message + "\n"
			if !res.Origin.IsZero() {
				body += res.Origin.String() + "\n"
			}
			if len(res.Ladder) > 0 {
				body += "SIP:\n  " + strings.Join(res.Ladder, "\n  ") + "\n"
			}
			c.Failure = &junitFailure{Message: res.Message, Type: "CallPathFailed", Body: body}
		case Skip:
			c.Skipped = &junitSkipped{Message: res.Message}
		}
		s.Cases = append(s.Cases, c)
	}
	doc := junitSuites{Name: "switchboard test", Tests: s.Tests, Failures: fail, Skipped: skip, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
