site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example.net"
  installer {
    company = "Fixture Installers"
    email   = "installer@fixture.example"
  }
}

residence "a" {
  label = "A"
}

user "anne" {
  first_name = "Anne"
  last_name  = "Doyle"
  email      = "anne@example.com"
  role       = "owner"
  residence  = residence.a
}

user "bob" {
  first_name = "Bob"
  last_name  = "Moran"
  email      = "bob@example.com"
  role       = "admin"
  residence  = residence.a
}

user "carol" {
  first_name = "Carol"
  last_name  = "Moran"
  email      = "carol@example.com"
  role       = "admin"
  residence  = residence.a
}

user "dan" {
  first_name = "Dan"
  last_name  = "Murphy"
  email      = "dan@example.com"
  role       = "admin" # WARNING: More admins than the site needs
  residence  = residence.a
}
