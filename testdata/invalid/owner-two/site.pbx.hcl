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
  first_name = "Anne"
  last_name  = "Doyle"
  email      = "anne@example.com"
  app        = true
  role       = "owner"
}

user "bob" {
  first_name = "Bob"
  last_name  = "Moran"
  email      = "bob@example.com"
  app        = true
  role       = "owner" # ERROR: Second site owner
}

user "carol" {
  first_name = "Carol"
  last_name  = "Moran"
  email      = "carol@example.com"
  app        = true
  role       = "owner" # ERROR: Second site owner
}
