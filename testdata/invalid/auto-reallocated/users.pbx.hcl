user "tom" {
  email     = "tom@example.com"
  extension = "auto" # WARNING: Extension reallocated
}

user "zoe" {
  email     = "zoe@example.com"
  extension = 100
}
