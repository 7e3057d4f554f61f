site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example.net"

  features {
    voicemail = 8000
  }

  installer {
    company = "Fixture Installers"
    email   = "installer@fixture.example"
  }
}
