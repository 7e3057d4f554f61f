user "mary" {
  email        = "mary@example.com"
  notify_email = "mary at work" # ERROR: Invalid email address
}

user "mary-again" {
  email = "MARY@Example.com" # ERROR: Duplicate email
}

user "named" {
  email = "Mary Byrne <mary.b@example.com>" # ERROR: Invalid email address
}

user "nodomain" {
  email = "sean@localhost" # ERROR: Invalid email address
}

user "shared" {
  email = "Installer@Fixture.example" # ERROR: Installer email used by a user
}
