// Passwords of 12 characters or more that top the public leaked-password lists (compared lower-cased).
// Shorter ones are already refused by the length rule.
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  "123456789012", "1234567890123", "12345678901234", "123456789123", "1234567891011", "password1234",
  "password12345", "password123456", "passwordpassword", "qwertyuiopasdfgh", "qwertyuiop123", "qwertyuiopasdf",
  "qwerty123456", "1q2w3e4r5t6y", "1qaz2wsx3edc", "q1w2e3r4t5y6", "zaq12wsxcde3", "iloveyou1234", "abcdefghijkl",
  "abc123456789", "aaaaaaaaaaaa", "111111111111", "000000000000", "123123123123", "princess1234", "football1234",
  "baseball1234", "welcome12345", "letmein12345", "administrator", "admin1234567", "adminadmin123", "changeme1234",
  "changemenow!", "trustno11234", "sunshine1234", "superman1234", "michael12345", "monkey123456", "dragon123456",
  "starwars1234", "whatever1234", "passw0rd1234", "p@ssw0rd1234", "p@ssword1234", "correcthorsebatterystaple",
  "mypassword123", "mypassword1234", "secretpassword", "password1password1", "987654321098", "asdfghjkl123",
  "zxcvbnm12345", "qazwsxedcrfv", "1234qwerasdf", "1234567890qwerty", "qwerty1234567890", "iloveyouiloveyou",
]);
