site "fixture" { # ERROR: No site owner
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example.net"
  installer {
    company = "Fixture Installers"
    email   = "installer@fixture.example"
  }
}

user "admin" { # WARNING: User with no endpoint
  first_name = "Helen"
  last_name  = "Dunne"
  email      = "admin@example.com"
  role       = "admin"
}
