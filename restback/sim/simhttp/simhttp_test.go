package simhttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStartServesAndCloseStops(t *testing.T) {
	s := New("testsim")
	url, err := s.Start("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start("127.0.0.1:0", http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "testsim: already started") {
		t.Fatalf("second Start: %v, want already started", err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Fatalf("body %q", body)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("server still answers after Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestStartBadAddress(t *testing.T) {
	_, err := New("testsim").Start("127.0.0.1:-1", http.NotFoundHandler())
	if err == nil || !strings.HasPrefix(err.Error(), "testsim: listen on 127.0.0.1:-1") {
		t.Fatalf("err = %v", err)
	}
}

// A hanging request gets no answer and is released by Close, not by a
// timeout.
func TestCloseReleasesHang(t *testing.T) {
	s := New("testsim")
	entered := make(chan struct{})
	released := make(chan struct{})
	url, err := s.Start("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(released)
		close(entered)
		s.Hang(r)
	}))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	select {
	case <-released:
		t.Fatal("Hang returned before Close")
	case <-time.After(50 * time.Millisecond):
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-released
	if err := <-errc; err == nil {
		t.Fatal("a hung request got an answer")
	}
}

func TestSleepEnds(t *testing.T) {
	s := New("testsim")
	if !s.Sleep(context.Background(), 0) || !s.Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep with nothing ending reported false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s.Sleep(ctx, time.Hour) {
		t.Fatal("Sleep past a cancelled context reported true")
	}
	s.SetLatency(time.Hour, -time.Second)
	_ = s.Close()
	if s.Delay(context.Background()) {
		t.Fatal("Delay on a closed server reported true")
	}
	s.SetLatency(-time.Hour, 0)
	if !s.Delay(context.Background()) {
		t.Fatal("a negative latency is not 0")
	}
}

func TestAbort(t *testing.T) {
	defer func() {
		if r := recover(); !errors.Is(r.(error), http.ErrAbortHandler) {
			t.Fatalf("recovered %v", r)
		}
	}()
	Abort()
}

func TestSetRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{-time.Second, ""},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{2 * time.Minute, "120"},
	} {
		h := http.Header{}
		SetRetryAfter(h, tt.d)
		if got := h.Get("Retry-After"); got != tt.want {
			t.Errorf("SetRetryAfter(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
