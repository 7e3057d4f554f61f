site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example.net"
  installer {
    company = "Fixture Installers"
    email   = "installer@fixture.example"
  }
}

residence "a" {
  label = "A"
}

user "anne" {
  email     = "anne@example.com"
  role      = "owner"
  residence = residence.a
}

user "bob" {
  email     = "bob@example.com"
  role      = "admin"
  residence = residence.a
}

user "carol" {
  email     = "carol@example.com"
  role      = "admin"
  residence = residence.a
}

user "dan" {
  email     = "dan@example.com"
  role      = "admin" # WARNING: More admins than the site needs
  residence = residence.a
}
