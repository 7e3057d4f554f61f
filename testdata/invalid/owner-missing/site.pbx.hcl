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
  email = "admin@example.com"
  role  = "admin"
}
