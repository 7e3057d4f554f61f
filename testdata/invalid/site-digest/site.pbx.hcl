site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example"
  digest = [
    "sha256", # ERROR: Unknown digest algorithm
    "md5",
    "md5",    # ERROR: Duplicate digest algorithm
    "sha-512-256", # ERROR: Unknown digest algorithm
  ]

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
