package gateway

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/fileshare"
	"github.com/labelgate/labelgate/connectors/gdrive"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/connectors/provmetrics"
	"github.com/labelgate/labelgate/internal/config"
)

// buildConnectors makes the connectors named in the configuration. subs is where their
// webhook receivers find the subscriptions they created; ps holds their pacers.
func buildConnectors(cfg config.Config, subs connectors.SubscriptionLookup, log *slog.Logger, prov *provmetrics.Recorder, ps *pacers) ([]*Conn, error) {
	var out []*Conn
	for i, cc := range cfg.Connectors {
		l := log.With("connector", cc.Name)
		hc := providerClient(prov, ps, cc.App, cc.Tenant)
		rate := 0.0 // the Drive connector's own default
		if hc != nil {
			rate = unpaced // the transport's adaptive pacer replaces the fixed 20 calls/s
		}
		var c connectors.Connector
		var err error
		switch cc.App {
		case "box":
			c, err = box.New(box.Config{
				EnterpriseID: cc.Tenant, ClientID: cc.ClientID, ClientSecret: cc.ClientSecret,
				BaseURL: cc.BaseURL, UploadURL: cc.UploadURL, TokenURL: cc.AuthURL,
				Roots: cc.Roots, Domains: cc.Domains, PrimaryKey: cc.PrimaryKey, SecondaryKey: cc.SecondaryKey,
				LabelMap: cc.LabelMap, LabelMode: box.LabelMode(cc.LabelMode), Subscriptions: subs, Logger: l,
				EventStream: box.EventStream(cc.EventStream), EventPoll: cc.EventPoll,
				HTTPClient: hc,
			})
		case "gdrive":
			var key []byte
			if cc.ServiceAccountKey != "" {
				if key, err = gdrive.LoadKey(cc.ServiceAccountKey); err != nil {
					break
				}
			}
			var gc *gdrive.Conn
			gc, err = gdrive.New(gdrive.Config{
				Tenant: cc.Tenant, Domains: cc.Domains, Users: cc.Users, AdminEmail: cc.AdminEmail, ServiceAccountKey: key,
				BaseURL: cc.BaseURL, TokenURL: cc.AuthURL, Include: cc.Include, Exclude: cc.Exclude,
				LabelMode: cc.LabelMode, LabelMap: cc.LabelMap, Subscriptions: subs, Logger: l, HTTPClient: hc, RateLimit: rate,
			})
			if err == nil {
				// In embedded mode Connector() hides the native label API, so the executor
				// writes labels into the files instead.
				c = gc.Connector()
			}
		case "sharepoint", "onedrive":
			gcfg := graph.Config{TenantID: cc.Tenant, ClientID: cc.ClientID, ClientSecret: cc.ClientSecret, BaseURL: cc.BaseURL,
				AuthURL: cc.AuthURL, Domains: cc.Domains, Include: cc.Include, Exclude: cc.Exclude, Subscriptions: subs, Logger: l,
				HTTPClient: hc}
			if cc.App == "sharepoint" {
				c, err = graph.NewSharePoint(gcfg)
			} else {
				c, err = graph.NewOneDrive(gcfg)
			}
		case "fileshare":
			tenant := cc.Tenant
			if tenant == "" {
				tenant = "local"
			}
			c, err = fileshare.New(fileshare.Config{Roots: cc.Roots, Tenant: tenant, Include: cc.Include, Exclude: cc.Exclude,
				StateDir: filepath.Join(cfg.DataDir, "fileshare", config.EnvName(cc.Name)), Logger: l})
		default:
			err = fmt.Errorf("app %q is not available in this build yet", cc.App)
		}
		if err != nil {
			return nil, fmt.Errorf("connectors[%d] (%s): %w", i, cc.Name, err)
		}
		out = append(out, &Conn{Name: cc.Name, C: c})
	}
	return out, nil
}
