# ERROR: Missing site
user "owner" {
  email = "owner@example.com"
  role  = "owner"
}
