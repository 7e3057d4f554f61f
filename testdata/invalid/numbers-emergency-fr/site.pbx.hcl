site "fixture" {
  country  = "FR"
  timezone = "Europe/Paris"
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
