user "tom" {
  extension = 100
}
