package main

import (
	"context"
	"reflect"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/config"
)

// configWatchInterval is how often the configuration file is looked at
// when reload.watch_config is on.
const configWatchInterval = 2 * time.Second

// reload re-reads the configuration file and, when it is valid and builds,
// swaps it in for new operations: routes, backends, local accounts, the
// log level and the audit file. A bad file changes nothing and is logged
// with every problem. The audit file is reopened either way (log
// rotation).
func (a *app) reload(trigger string) {
	cfg, err := config.Load(a.path)
	var st *bridge.State
	var set *settings
	if err == nil {
		st, set, err = a.build(cfg)
	}
	if err == nil {
		err = a.trail.w.SetPath(cfg.Log.AuditFile)
	}
	if err != nil {
		a.metrics.ConfigLoaded(false, true)
		a.log.Error("configuration reload failed; keeping the previous configuration",
			"config", a.path, "trigger", trigger, "err", err)
		if rerr := a.trail.w.SetPath(a.trail.w.Path()); rerr != nil {
			a.log.Error("audit file not reopened", "err", rerr)
		}
		return
	}
	old := a.set.Load().cfg
	a.install(st, set)
	a.metrics.ConfigLoaded(true, true)
	a.log.Info("configuration reloaded", "config", a.path, "trigger", trigger)
	if fixed := restartOnly(old, cfg); len(fixed) > 0 {
		a.log.Warn("configuration changes that take effect only after a restart", "sections", fixed)
	}
}

// restartOnly names the settings that differ between old and cur but are
// fixed for the life of the process.
func restartOnly(old, cur *config.Config) []string {
	var out []string
	for _, c := range []struct {
		name     string
		old, new any
	}{
		{"listeners", old.Listeners, cur.Listeners},
		{"limits", old.Limits, cur.Limits},
		{"admin", old.Admin, cur.Admin},
		{"log.format", old.Log.Format, cur.Log.Format},
	} {
		if !reflect.DeepEqual(c.old, c.new) {
			out = append(out, c.name)
		}
	}
	return out
}

// watch tells changed when the configuration file's modification time or
// size changes and the configuration in force has reload.watch_config
// on. Polling is enough at this scale and also sees a Kubernetes
// ConfigMap update, which replaces a symbolic link.
func (a *app) watch(ctx context.Context, every time.Duration, changed chan<- struct{}) {
	last := fileStamp(a.path)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := fileStamp(a.path)
		if s == last {
			continue
		}
		last = s
		if a.set.Load().cfg.Reload.WatchConfig {
			select {
			case changed <- struct{}{}:
			default: // a reload is already pending
			}
		}
	}
}
