site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example"
  nodes    = [] # ERROR: Empty nodes list

  installer {
    company = "Fixture Installers"
    email   = "installer@fixture.example"
  }
}

user "owner" {
  first_name = "Tadhg"
  last_name  = "O'Brien"
  email      = "owner@example.com"
  role       = "owner"
  app        = true
}
