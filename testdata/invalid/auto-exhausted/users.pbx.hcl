user "anna" {
  email     = "anna@example.com"
  extension = "auto"
}

user "bob" {
  email     = "bob@example.com"
  extension = "auto" # ERROR: No free extension
}

user "carl" {
  email     = "carl@example.com"
  extension = "auto"
}
