package demo

// person is a developer of the simulated organisation.
type person struct {
	Login, Name string
}

func (p person) Email() string { return p.Login + "@acme.dev" }

// app is one service of the organisation.
type service struct {
	Name string
	Team string
	// Knative apps run as Knative Services; the others as Deployments.
	Knative bool
}

// team owns apps and has developers.
type team struct {
	Name   string
	Apps   []string
	People []person
}

// The organisation: three teams, ten apps. gateway, accounts and billing
// run as plain Deployments, the rest as Knative Services.
var teams = []team{
	{Name: "payments", Apps: []string{"checkout", "payments", "billing"}, People: []person{
		{"alice", "Alice Martin"}, {"bruno", "Bruno Costa"}, {"chloe", "Chloé Dubois"}, {"diego", "Diego Alvarez"},
	}},
	{Name: "catalog", Apps: []string{"catalog", "search", "pricing", "inventory"}, People: []person{
		{"emma", "Emma Schmidt"}, {"farid", "Farid Haddad"}, {"grace", "Grace Kim"}, {"hugo", "Hugo Lefèvre"}, {"ines", "Inès Moreau"},
	}},
	{Name: "platform", Apps: []string{"gateway", "accounts", "notifications"}, People: []person{
		{"jonas", "Jonas Berg"}, {"kenji", "Kenji Sato"}, {"lea", "Léa Laurent"}, {"marc", "Marc Petit"},
	}},
}

var plainDeployments = map[string]bool{"gateway": true, "accounts": true, "billing": true}

// Environments, in promotion order.
var envs = []string{"dev", "staging", "prod"}

// Org is the simulated organisation's shape, for the configuration.
func apps() []service {
	var out []service
	for _, t := range teams {
		for _, a := range t.Apps {
			out = append(out, service{Name: a, Team: t.Name, Knative: !plainDeployments[a]})
		}
	}
	return out
}

func teamOf(name string) team {
	for _, t := range teams {
		for _, a := range t.Apps {
			if a == name {
				return t
			}
		}
	}
	return team{}
}

// Teams maps each team to its apps, as config.Config.Teams wants it.
func Teams() map[string][]string {
	out := map[string][]string{}
	for _, t := range teams {
		out[t.Name] = append([]string(nil), t.Apps...)
	}
	return out
}

// bot is the image updater that bumps dev.
var bot = person{Login: "argocd-image-updater", Name: "argocd-image-updater"}

const (
	org      = "acme"
	registry = "ghcr.io/acme"
)

func repoURL(appName string) string { return "https://github.com/" + org + "/" + appName }

func imageRef(appName, sha string) string { return registry + "/" + appName + ":sha-" + sha[:7] }
