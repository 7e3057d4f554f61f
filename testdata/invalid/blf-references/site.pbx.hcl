site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example.net"

  installer {
    company = "Fixture Installers"
    email   = "installer@fixture.example"
  }
}

user "owner" {
  email = "owner@example.com"
  role  = "owner"
  app   = true
}
