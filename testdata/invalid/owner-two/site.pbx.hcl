site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example.net"
  installer {
    company   = "Fixture Installers"
    email     = "installer@fixture.example"
    owns_site = true # WARNING: Two site owners
  }
}

user "anne" {
  email = "anne@example.com"
  app   = true
  role  = "owner"
}

user "bob" {
  email = "bob@example.com"
  app   = true
  role  = "owner" # ERROR: Second site owner
}

user "carol" {
  email = "carol@example.com"
  app   = true
  role  = "owner" # ERROR: Second site owner
}
