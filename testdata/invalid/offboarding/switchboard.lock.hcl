quarantine "100" {
  user  = "tom"
  until = "2099-01-01"
}
