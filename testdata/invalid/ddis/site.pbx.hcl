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
  email = "owner@example.com"
  role  = "owner"
  app   = true
}
