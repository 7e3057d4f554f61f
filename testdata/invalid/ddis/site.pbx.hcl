site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example.net"

  installer {
    company = "Fixture Installers"
    email   = "installer@fixture.example"
  }
}

        trunk "carrier" {
          host    = "sip.carrier.example"
          numbers = ["+35315550100", "+35315550101"]
        }

user "owner" {
  first_name = "Tadhg"
  last_name  = "O'Brien"
  email      = "owner@example.com"
  role       = "owner"
  app        = true
}
