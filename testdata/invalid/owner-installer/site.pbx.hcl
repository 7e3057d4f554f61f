site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example.net"
  installer {
    company   = "Fixture Installers"
    email     = "installer@fixture.example"
    owns_site = true # WARNING: Installer owns the site
  }
}

user "resident" { # WARNING: User with no endpoint
  first_name = "Liam"
  last_name  = "Nolan"
  email      = "resident@example.com"
}
